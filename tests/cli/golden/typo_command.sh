# a mistyped command names the closest one; nothing close, no guess
strata lss
echo "exit $?"
strata updaet
echo "exit $?"
strata frobnicate
echo "exit $?"
strata --json lss
