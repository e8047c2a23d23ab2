// A minimal reader of the flexbuffer maps of integers that LCE-format custom options are
// (semantics.md, "Flatbuffer encoding"), written from the FlexBuffers format description.
// Every offset is bounds-checked: malformed options give an error message, never a bad read.
#ifndef LCE_DELEGATE_FLEXBUFFER_MAP_H
#define LCE_DELEGATE_FLEXBUFFER_MAP_H

#include <cstdint>
#include <map>
#include <string>

namespace lce_delegate {

// Parses `data` as a flexbuffer whose root is a map with integer values. On failure returns
// false and sets `error`. An empty buffer is an empty map.
bool parseIntMap(const uint8_t *data, size_t size, std::map<std::string, int64_t> &out, std::string &error);

}  // namespace lce_delegate

#endif  // LCE_DELEGATE_FLEXBUFFER_MAP_H
