# The two commands a newcomer needs (see README.md). Both set up .venv themselves.
.PHONY: run test

# Start the proxy on 127.0.0.1:8080 with the bundled policies in policies/. The bundled default
# withholds proprietary code, which needs a code index (llm-dlp index build); until one exists
# this trial command starts anyway and the banner warns that proprietary code is not detected.
# `llm-dlp run` itself (and the Docker image) refuses to start without the index.
run:
	@scripts/bootstrap.sh run
	.venv/bin/llm-dlp run --allow-missing-index $(ARGS)

# Run the whole test suite (installs test dependencies and any service the tests need).
test:
	@scripts/bootstrap.sh test
	scripts/test-services.sh
	.venv/bin/python -m pytest $(ARGS)
