from mcpgw.cli.app import main

main()
