# a mistyped option names the closest of the command's own
strata ls --jsn
echo "exit $?"
strata cat demo/x --hed 3
echo "exit $?"
strata --jsn ls
echo "exit $?"
strata ls --frobnicate
