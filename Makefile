# The two commands a newcomer needs (see README.md). Both set up .venv themselves.
.PHONY: run test

# Start the proxy on 127.0.0.1:8080 with the bundled policies in policies/.
run:
	@scripts/bootstrap.sh run
	.venv/bin/llm-dlp run $(ARGS)

# Run the whole test suite (installs test dependencies and any service the tests need).
test:
	@scripts/bootstrap.sh test
	scripts/test-services.sh
	.venv/bin/python -m pytest $(ARGS)
