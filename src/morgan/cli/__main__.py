from morgan.cli.main import cli

cli()
