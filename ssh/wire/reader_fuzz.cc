// Fuzz target: the wire reader. The first byte picks a sequence of getters;
// the rest is the input. Every getter must either succeed inside the buffer
// or fail without consuming anything.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "ssh/wire/reader.h"
#include "ssh/wire/writer.h"

using sallyport::ssh::wire::Reader;
using sallyport::ssh::wire::Writer;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  uint8_t program = data[0];
  Reader r(absl::Span<const uint8_t>(data + 1, size - 1));
  for (int step = 0; step < 64 && !r.empty(); ++step) {
    size_t before = r.remaining();
    bool ok = false;
    switch ((program + step) % 9) {
      case 0:
        ok = r.ReadByte().ok();
        break;
      case 1:
        ok = r.ReadBool().ok();
        break;
      case 2:
        ok = r.ReadUint32().ok();
        break;
      case 3:
        ok = r.ReadUint64().ok();
        break;
      case 4: {
        auto s = r.ReadString(1024);
        ok = s.ok();
        if (ok && s->size() > before) abort();
        break;
      }
      case 5:
        ok = r.ReadCString(1024).ok();
        break;
      case 6: {
        auto m = r.ReadMpint(64);
        ok = m.ok();
        if (ok) {
          // Round trip: re-encoding the magnitude gives a valid mpint again.
          Writer w;
          w.Mpint(*m);
          Reader again(w.data());
          auto m2 = again.ReadMpint(64);
          if (!m2.ok() || m2->size() != m->size()) abort();
        }
        break;
      }
      case 7: {
        auto l = r.ReadNameList();
        ok = l.ok();
        if (ok) {
          Writer w;
          w.NameList(*l);
          Reader again(w.data());
          auto l2 = again.ReadNameList();
          if (!l2.ok() || *l2 != *l) abort();
        }
        break;
      }
      case 8:
        ok = r.ReadRaw(program % 7).ok();
        break;
    }
    if (!ok && r.remaining() != before) abort();  // failures consume nothing
    if (r.remaining() > before) abort();
    if (!ok) break;
  }
  return 0;
}
