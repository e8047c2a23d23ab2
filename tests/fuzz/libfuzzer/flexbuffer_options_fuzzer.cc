// libFuzzer target for the delegate's flexbuffer-map reader (kernels/delegate/flexbuffer_map.cc),
// which parses the Lce ops' custom options straight from the model. Any input must give either a
// map or an error message, never an out-of-bounds read (ASan) or undefined behaviour (UBSan);
// a parsed map is re-checked for consistency. Build and run: tests/fuzz/README.md.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>

#include "flexbuffer_map.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::map<std::string, int64_t> options;
  std::string error;
  const bool ok = lce_delegate::parseIntMap(data, size, options, error);
  if (ok != error.empty()) std::abort();           // an error exactly when parsing fails
  if (!ok && !options.empty() && error.empty()) std::abort();
  if (ok)
    for (const auto &kv : options)
      if (kv.first.size() >= size + 1) std::abort();  // keys come from the buffer
  return 0;
}
