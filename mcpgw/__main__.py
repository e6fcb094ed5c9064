from mcpgw.cli import main

main()
