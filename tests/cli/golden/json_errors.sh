# with --json, errors are one JSON document on stderr (code, message, hint, exit)
strata --json show demo/nosuch
echo "exit $?"
strata show demo/nosuch --json
echo "exit $?"
strata --json -P nowhere ls
echo "exit $?"
strata --json region create ../x
echo "exit $?"
strata --json cat
