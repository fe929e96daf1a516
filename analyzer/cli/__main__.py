from analyzer.cli import app

app()
