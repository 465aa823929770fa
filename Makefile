# The two commands of the README, plus the developer's everyday targets.
.PHONY: up down test lint install audit

up: ## Bring the system up on this machine (installs what is missing)
	@scripts/bootstrap
	uv run fileserver up

down: ## Stop everything `make up` started
	@scripts/bootstrap
	uv run fileserver down

install: ## Install and build every server without starting them
	@scripts/bootstrap
	uv run fileserver dev install

test: ## Run every check and test against the real servers
	@scripts/bootstrap
	uv run ruff check .
	uv run mypy
	uv run fileserver dev install
	uv run pytest

lint: ## Static checks
	@scripts/bootstrap
	uv run ruff check .
	uv run ruff format --check .
	uv run mypy

audit: ## Known vulnerabilities in the locked dependencies (needs PyPI's advisory service)
	@scripts/bootstrap
	@mkdir -p .state
	uv export --quiet --frozen --all-groups --no-emit-project --no-hashes -o .state/audit-requirements.txt
	uv run pip-audit --strict --progress-spinner off --disable-pip --no-deps \
		-r .state/audit-requirements.txt
