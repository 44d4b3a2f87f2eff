"""The command line: the one composition root of gongshi."""
