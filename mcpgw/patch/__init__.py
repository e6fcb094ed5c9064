"""Patches: parse unified diffs, check and apply them atomically with an undo journal, review hunks."""

from mcpgw.patch.apply import FileChange, HunkResult, Plan, apply_hunks, plan_apply, write_files
from mcpgw.patch.journal import (
    DaemonJournal,
    Journal,
    JournalEntry,
    JournalFile,
    MemoryJournal,
    apply_plan,
    check_undo,
    undo,
)
from mcpgw.patch.parse import FilePatch, Hunk, Line, Patch, parse_patch

__all__ = [
    "DaemonJournal",
    "FileChange",
    "FilePatch",
    "Hunk",
    "HunkResult",
    "Journal",
    "JournalEntry",
    "JournalFile",
    "Line",
    "MemoryJournal",
    "Patch",
    "Plan",
    "apply_hunks",
    "apply_plan",
    "check_undo",
    "parse_patch",
    "plan_apply",
    "undo",
    "write_files",
]
