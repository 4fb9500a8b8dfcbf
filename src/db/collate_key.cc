// collate_key.cc — see collate_key.h.
#include "db/collate_key.h"

#include <unicode/ucol.h>
#include <unicode/ustring.h>

#include <bit>
#include <cstring>
#include <vector>

namespace settee::db {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

// Type bytes, in collation order. 0 is kept for "end of array / object", below every value.
enum : char {
  kEnd = 0,
  kNull = 1,
  kFalse = 2,
  kTrue = 3,
  kNumber = 4,
  kString = 5,
  kArray = 6,
  kObject = 7,
};

// The root collator at its defaults (tertiary strength), as CouchDB's couch_ejson_compare opens it
// (ucol_open("")). A collator is not safe to use from two threads at once, so each thread opens its own.
class Collator {
 public:
  Collator() {
    UErrorCode status = U_ZERO_ERROR;
    coll_ = ucol_open("", &status);
    if (U_FAILURE(status)) coll_ = nullptr;
  }
  ~Collator() {
    if (coll_) ucol_close(coll_);
  }
  Collator(const Collator&) = delete;
  Collator& operator=(const Collator&) = delete;
  UCollator* get() const { return coll_; }

 private:
  UCollator* coll_ = nullptr;
};

UCollator* collator() {
  thread_local Collator c;
  return c.get();
}

// ICU's sort key of a UTF-8 string: bytes that compare (memcmp) as the collator compares the strings,
// with no 0 byte but the final one. Without a collator (ICU data missing) the code points order it.
void appendSortKey(std::string_view s, std::string& out) {
  thread_local std::vector<UChar> utf16;
  UCollator* coll = collator();
  UErrorCode status = U_ZERO_ERROR;
  int32_t len = 0;
  if (coll) {
    utf16.resize(s.size() + 1);
    // Replacement character for ill-formed bytes: simdjson has validated the text, but a key must exist
    // for any input rather than fail a write.
    u_strFromUTF8WithSub(utf16.data(), static_cast<int32_t>(utf16.size()), &len, s.data(),
                         static_cast<int32_t>(s.size()), 0xFFFD, nullptr, &status);
  }
  if (!coll || U_FAILURE(status)) {
    for (char c : s) out.push_back(c == 0 ? '\x01' : c);  // not reached with ICU's data installed
    out.push_back('\0');
    return;
  }
  const size_t at = out.size();
  out.resize(at + s.size() * 4 + 32);
  int32_t need = ucol_getSortKey(coll, utf16.data(), len, reinterpret_cast<uint8_t*>(out.data() + at),
                                 static_cast<int32_t>(out.size() - at));
  if (static_cast<size_t>(need) > out.size() - at) {
    out.resize(at + static_cast<size_t>(need));
    need = ucol_getSortKey(coll, utf16.data(), len, reinterpret_cast<uint8_t*>(out.data() + at), need);
  }
  out.resize(at + static_cast<size_t>(need));  // `need` counts the terminating 0
}

// A double as 8 bytes whose unsigned big-endian order is numeric order: the sign bit flipped for
// positives, every bit flipped for negatives. -0 is written as 0 so the two compare equal.
void appendNumber(double d, std::string& out) {
  if (d == 0) d = 0;  // -0 == 0
  uint64_t bits = std::bit_cast<uint64_t>(d);
  bits = (bits & 0x8000000000000000ull) ? ~bits : bits | 0x8000000000000000ull;
  out.push_back(kNumber);
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((bits >> shift) & 0xFF));
}

void appendString(std::string_view s, std::string& out) {
  out.push_back(kString);
  appendSortKey(s, out);
}

}  // namespace

void appendCollationKey(element value, std::string& out) {
  switch (value.type()) {
    case element_type::NULL_VALUE:
      out.push_back(kNull);
      return;
    case element_type::BOOL:
      out.push_back(value.get_bool().value_unsafe() ? kTrue : kFalse);
      return;
    case element_type::INT64:
      appendNumber(static_cast<double>(value.get_int64().value_unsafe()), out);
      return;
    case element_type::UINT64:
      appendNumber(static_cast<double>(value.get_uint64().value_unsafe()), out);
      return;
    case element_type::DOUBLE:
      appendNumber(value.get_double().value_unsafe(), out);
      return;
    case element_type::STRING:
      appendString(value.get_string().value_unsafe(), out);
      return;
    case element_type::ARRAY: {
      out.push_back(kArray);
      simdjson::dom::array items = value.get_array().value_unsafe();
      for (element item : items) appendCollationKey(item, out);
      out.push_back(kEnd);
      return;
    }
    case element_type::OBJECT: {
      out.push_back(kObject);
      simdjson::dom::object members = value.get_object().value_unsafe();
      // Each member starts with its key as a string value (type byte 5), so the end byte 0 sorts an
      // object before any that has more members.
      for (auto field : members) {
        appendString(field.key, out);
        appendCollationKey(field.value, out);
      }
      out.push_back(kEnd);
      return;
    }
  }
}

void appendCollationKey(const MangoValue& value, std::string& out) {
  using Kind = MangoValue::Kind;
  switch (value.kind) {
    case Kind::Null:
      out.push_back(kNull);
      return;
    case Kind::False:
      out.push_back(kFalse);
      return;
    case Kind::True:
      out.push_back(kTrue);
      return;
    case Kind::Number:
      appendNumber(asDouble(value.number), out);
      return;
    case Kind::String:
      appendString(value.string, out);
      return;
    case Kind::Array:
      out.push_back(kArray);
      for (const MangoValue& item : value.items) appendCollationKey(item, out);
      out.push_back(kEnd);
      return;
    case Kind::Object:
      out.push_back(kObject);
      for (size_t i = 0; i < value.keys.size(); ++i) {
        appendString(value.keys[i], out);
        appendCollationKey(value.values[i], out);
      }
      out.push_back(kEnd);
      return;
  }
}

int collateStrings(std::string_view a, std::string_view b) {
  if (a == b) return 0;
  UCollator* coll = collator();
  UErrorCode status = U_ZERO_ERROR;
  if (coll) {
    UCollationResult r = ucol_strcollUTF8(coll, a.data(), static_cast<int32_t>(a.size()), b.data(),
                                          static_cast<int32_t>(b.size()), &status);
    if (U_SUCCESS(status)) return r == UCOL_LESS ? -1 : r == UCOL_GREATER ? 1 : 0;
  }
  int c = a.compare(b);
  return (c > 0) - (c < 0);
}

}  // namespace settee::db
