# the version: as a command, as the global option, and as JSON
strata --version
strata -V
strata version --json
strata --json version
