from backend.cli.app import app

app()
