// See flexbuffer_map.h. FlexBuffers layout used here: the buffer ends with the root's packed
// type byte and byte width; a map is stored as its values vector (length and element width
// before it, then the keys vector's offset and width before that) followed by one packed type
// byte per value; keys are offsets to NUL-terminated strings.
#include "flexbuffer_map.h"

#include <cstring>

namespace lce_delegate {

namespace {

enum Type { kNull = 0, kInt = 1, kUInt = 2, kFloat = 3, kKey = 4, kString = 5, kIndirectInt = 6,
            kIndirectUInt = 7, kIndirectFloat = 8, kMap = 9, kVector = 10, kBool = 26 };

struct Reader {
  const uint8_t *data;
  size_t size;
  std::string &error;

  bool fail(const char *what) {
    error = what;
    return false;
  }
  bool readUnsigned(size_t pos, size_t width, uint64_t &v) {
    if (width != 1 && width != 2 && width != 4 && width != 8) return fail("bad byte width");
    if (pos > size || size - pos < width) return fail("read past the end of the options");
    v = 0;
    for (size_t i = 0; i < width; ++i) v |= static_cast<uint64_t>(data[pos + i]) << (8 * i);
    return true;
  }
  bool readSigned(size_t pos, size_t width, int64_t &v) {
    uint64_t u;
    if (!readUnsigned(pos, width, u)) return false;
    if (width < 8 && (u >> (8 * width - 1)) & 1) u |= ~uint64_t(0) << (8 * width);
    v = static_cast<int64_t>(u);
    return true;
  }
  // Target of an offset stored at `pos`: pos - value.
  bool follow(size_t pos, size_t width, size_t &target) {
    uint64_t off;
    if (!readUnsigned(pos, width, off)) return false;
    if (off > pos) return fail("offset before the start of the options");
    target = pos - off;
    return true;
  }
};

}  // namespace

bool parseIntMap(const uint8_t *data, size_t size, std::map<std::string, int64_t> &out, std::string &error) {
  out.clear();
  if (size == 0) return true;
  Reader r{data, size, error};
  if (size < 3) return r.fail("options too short");
  const size_t rootWidth = data[size - 1];
  const uint8_t rootPacked = data[size - 2];
  if (rootWidth == 0 || size < 2 + rootWidth) return r.fail("bad root width");
  const size_t rootPos = size - 2 - rootWidth;
  if ((rootPacked >> 2) != kMap) return r.fail("options are not a map");
  size_t map;
  if (!r.follow(rootPos, rootWidth, map)) return false;
  const size_t width = size_t(1) << (rootPacked & 3);
  if (map < 3 * width) return r.fail("map header out of range");
  uint64_t length, keysWidth;
  size_t keys;
  if (!r.readUnsigned(map - width, width, length) || !r.follow(map - 3 * width, width, keys) ||
      !r.readUnsigned(map - 2 * width, width, keysWidth))
    return false;
  if (length > size || map + length * width + length > size) return r.fail("map longer than the options");
  for (uint64_t i = 0; i < length; ++i) {
    size_t keyPos;
    if (!r.follow(keys + i * keysWidth, keysWidth, keyPos)) return false;
    const void *end = std::memchr(data + keyPos, 0, size - keyPos);
    if (!end) return r.fail("unterminated key");
    std::string key(reinterpret_cast<const char *>(data + keyPos), static_cast<const uint8_t *>(end) - (data + keyPos));
    const uint8_t packed = data[map + length * width + i];
    const size_t valuePos = map + i * width;
    int64_t value;
    switch (packed >> 2) {
      case kInt:
        if (!r.readSigned(valuePos, width, value)) return false;
        break;
      case kUInt:
      case kBool: {
        uint64_t u;
        if (!r.readUnsigned(valuePos, width, u)) return false;
        value = static_cast<int64_t>(u);
        break;
      }
      case kIndirectInt: {
        size_t target;
        if (!r.follow(valuePos, width, target) || !r.readSigned(target, size_t(1) << (packed & 3), value)) return false;
        break;
      }
      default:
        error = "option '" + key + "' is not an integer";
        return false;
    }
    out[key] = value;
  }
  return true;
}

}  // namespace lce_delegate
