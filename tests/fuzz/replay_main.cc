// main() for the corpus-replay form of a fuzz target: feeds every seed file
// given on the command line, then deterministic mutations of each seed (bit
// flips, truncations, insertions, splices) and random buffers, to
// LLVMFuzzerTestOneInput. Any crash or sanitizer report fails the test.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

void RunOne(const std::vector<uint8_t>& input) {
  // A copy in its own allocation, so ASan sees any over-read past the end.
  std::vector<uint8_t> copy(input);
  LLVMFuzzerTestOneInput(copy.empty() ? nullptr : copy.data(), copy.size());
}

std::vector<uint8_t> Mutate(const std::vector<uint8_t>& seed,
                            std::mt19937_64& rng,
                            const std::vector<std::vector<uint8_t>>& all) {
  std::vector<uint8_t> out = seed;
  int edits = 1 + static_cast<int>(rng() % 4);
  for (int e = 0; e < edits; ++e) {
    switch (rng() % 7) {
      case 0:  // flip a bit
        if (!out.empty())
          out[rng() % out.size()] ^= static_cast<uint8_t>(1u << (rng() % 8));
        break;
      case 1:  // truncate
        if (!out.empty()) out.resize(rng() % out.size());
        break;
      case 2:  // insert random bytes
      {
        size_t at = out.empty() ? 0 : rng() % (out.size() + 1);
        size_t n = 1 + rng() % 16;
        for (size_t i = 0; i < n; ++i)
          out.insert(out.begin() + static_cast<long>(at),
                     static_cast<uint8_t>(rng()));
      } break;
      case 3:  // set a byte to an interesting value
        if (!out.empty()) {
          static const uint8_t kInteresting[] = {0x00, 0x01, 0x7f, 0x80, 0xff};
          out[rng() % out.size()] = kInteresting[rng() % 5];
        }
        break;
      case 4:  // overwrite 4 bytes with an interesting length
        if (out.size() >= 4) {
          static const uint32_t kLens[] = {
              0,          1,          4,     5,      0x7fffffff,
              0x80000000, 0xffffffff, 35000, 262144, 262145};
          uint32_t v = kLens[rng() % 10];
          size_t at = rng() % (out.size() - 3);
          out[at] = static_cast<uint8_t>(v >> 24);
          out[at + 1] = static_cast<uint8_t>(v >> 16);
          out[at + 2] = static_cast<uint8_t>(v >> 8);
          out[at + 3] = static_cast<uint8_t>(v);
        }
        break;
      case 5:  // splice with another seed
        if (!all.empty()) {
          const auto& other = all[rng() % all.size()];
          size_t cut = out.empty() ? 0 : rng() % out.size();
          size_t from = other.empty() ? 0 : rng() % other.size();
          out.resize(cut);
          out.insert(out.end(), other.begin() + static_cast<long>(from),
                     other.end());
        }
        break;
      case 6:  // duplicate a chunk
        if (out.size() > 2) {
          size_t a = rng() % out.size();
          size_t n = 1 + rng() % (out.size() - a);
          std::vector<uint8_t> chunk(out.begin() + static_cast<long>(a),
                                     out.begin() + static_cast<long>(a + n));
          out.insert(out.begin() + static_cast<long>(a), chunk.begin(),
                     chunk.end());
        }
        break;
    }
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  int mutations = 200;
  std::vector<std::vector<uint8_t>> seeds;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--mutations=", 12) == 0) {
      mutations = std::atoi(argv[i] + 12);
      continue;
    }
    std::ifstream in(argv[i], std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "cannot read seed %s\n", argv[i]);
      return 1;
    }
    seeds.emplace_back(std::istreambuf_iterator<char>(in),
                       std::istreambuf_iterator<char>());
  }
  std::mt19937_64 rng(0x5a11790c7);
  size_t runs = 0;
  RunOne({});
  ++runs;
  for (const auto& s : seeds) {
    RunOne(s);
    ++runs;
    for (int m = 0; m < mutations; ++m) {
      RunOne(Mutate(s, rng, seeds));
      ++runs;
    }
  }
  for (int i = 0; i < 2000; ++i) {
    std::vector<uint8_t> r(rng() % 512);
    for (auto& b : r) b = static_cast<uint8_t>(rng());
    RunOne(r);
    ++runs;
  }
  std::printf("replayed %zu inputs (%zu seeds)\n", runs, seeds.size());
  return 0;
}
