"""Reading input: files, globs, gzip and other decoders, stdin, followed files, blocks of lines."""
