# 'strata help CMD' is 'strata CMD --help'; an unknown command's help is an error
strata help ls
strata help ls | cmp - <(strata ls --help) && echo same as ls --help
strata help nosuch
echo "exit $?"
strata help help | head -1
