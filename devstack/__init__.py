"""devstack: the docker-free local AWS stack of aTES, derived from `template.yaml` (never deployed).

`python -m devstack up` starts a moto emulator, provisions what the template declares, runs every
function in warm worker processes and serves the API (under `/api`) and the web front on one origin.
Kept import-free on purpose: `python -m devstack.worker` imports this package in every worker.
"""
