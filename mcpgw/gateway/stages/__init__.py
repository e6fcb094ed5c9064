"""The pipeline stages, one module each, each an ``async def run(ctx) -> None``."""
