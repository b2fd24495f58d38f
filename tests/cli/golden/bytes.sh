# byte counts for people in tables, raw with --json
strata array create demo/a i64 1000000
strata array info demo/a | grep -E '^(array|dtype|length|bytes) '
strata --json array info demo/a | grep -o '"bytes":[0-9]*'
strata tier ls | sed 's#  /.*#  PATH#'
strata --json tier ls | grep -o '"used":[0-9]*'
python3 -c 'import struct; open("x.npy","wb").write(b"\x93NUMPY\x01\x00v\x00" + (b"{'"'"'descr'"'"': '"'"'<f4'"'"', '"'"'fortran_order'"'"': False, '"'"'shape'"'"': (200, 1000), }").ljust(117) + b"\n" + struct.pack("<f", 1.5) * 200000)'
strata nd create demo/n --dtype f32 --shape 1000,1000 --chunks 100,100
strata nd write demo/n --from x.npy --start 0,0
strata nd info demo/n | grep -E 'written'
strata --json nd info demo/n | grep -o '"bytes":[0-9]*'
