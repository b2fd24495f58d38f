// sort_peers.cc -- the strongest sorting peers on this machine, on bench_ops's keys (an NPY file
// of i64), timed as bench_ops times st_sort (a copy of the keys, then the sort; best of REPS):
//   - Highway's vqsort (Debian libhwy-dev; AVX-512 where the machine has it), one thread: the
//     keys, and (key, position) as 128-bit records, which is a stable argsort;
//   - ips4o (Debian libips4o-dev), in-place parallel super scalar samplesort, THREADS threads:
//     the keys, and (key, position) pairs.
// Prints "name seconds" lines and a check of the argsort (the same as bench_ops's).
//     sort_peers KEYS.npy [THREADS] [REPS]
#include <hwy/contrib/sort/vqsort.h>
#include <ips4o.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

static double now()
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

static std::vector<int64_t> load(const char *path)
{
    FILE *f = std::fopen(path, "rb");
    if (!f) {
        std::perror(path);
        std::exit(1);
    }
    unsigned char head[10];
    if (std::fread(head, 1, 10, f) != 10) std::exit(1);
    size_t hlen = head[8] | (head[9] << 8);
    std::fseek(f, 0, SEEK_END);
    size_t n = ((size_t)std::ftell(f) - 10 - hlen) / 8;
    std::fseek(f, (long)(10 + hlen), SEEK_SET);
    std::vector<int64_t> k(n);
    if (std::fread(k.data(), 8, n, f) != n) std::exit(1);
    std::fclose(f);
    return k;
}

template <class F> static double best(int reps, F f)
{
    double b = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        f();
        b = std::min(b, now() - t0);
    }
    return b;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        std::fprintf(stderr, "usage: sort_peers KEYS.npy [THREADS] [REPS]\n");
        return 1;
    }
    std::vector<int64_t> k = load(argv[1]);
    int threads = argc > 2 ? std::atoi(argv[2]) : 2, reps = argc > 3 ? std::atoi(argv[3]) : 3;
    size_t n = k.size();
    std::vector<int64_t> v(n);
    hwy::Sorter vqsort; /* Highway 1.0's interface (hwy::VQSort came later) */
    std::printf("vqsort_sort_s %.6f\n", best(reps, [&] {
                    std::memcpy(v.data(), k.data(), n * 8);
                    vqsort(v.data(), n, hwy::SortAscending());
                }));
    // (key, position) as one 128-bit unsigned record: the key's sign bit flipped so that
    // unsigned order is signed order, the position in the low half: a stable argsort
    std::vector<hwy::uint128_t> r(n);
    std::printf("vqsort_argsort_s %.6f\n", best(reps, [&] {
                    for (size_t i = 0; i < n; i++)
                        r[i] = hwy::uint128_t{(uint64_t)i, (uint64_t)k[i] ^ (1ull << 63)};
                    vqsort(r.data(), n, hwy::SortAscending());
                }));
    uint64_t check = 0, step = n / 1000 + 1;
    for (size_t i = 0; i < n; i += step) check += (uint64_t)k[r[i].lo] & 1023;
    std::printf("vqsort_argsort_check %llu\n", (unsigned long long)check);
    std::printf("ips4o_sort_s %.6f\n", best(reps, [&] {
                    std::memcpy(v.data(), k.data(), n * 8);
                    ips4o::parallel::sort(v.begin(), v.end(), std::less<int64_t>(), threads);
                }));
    std::vector<std::pair<int64_t, uint64_t>> p(n);
    std::printf("ips4o_argsort_s %.6f\n", best(reps, [&] {
                    for (size_t i = 0; i < n; i++) p[i] = {k[i], (uint64_t)i};
                    ips4o::parallel::sort(p.begin(), p.end(), std::less<>(), threads);
                }));
    return 0;
}
