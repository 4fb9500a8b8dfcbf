#include "db/rev_hash.h"

#include <simdjson.h>

#include <bit>
#include <cstring>
#include <unordered_map>

#include "db/crypto.h"

namespace settee::db {
namespace {

// Tags of Erlang's external term format (erts/doc: "External Term Format").
constexpr uint8_t kVersion = 131;
constexpr uint8_t kNewFloat = 70;
constexpr uint8_t kSmallInteger = 97;
constexpr uint8_t kInteger = 98;
constexpr uint8_t kAtom = 100;  // ATOM_EXT: what minor_version 1 writes for a latin-1 atom
constexpr uint8_t kSmallTuple = 104;
constexpr uint8_t kNil = 106;
constexpr uint8_t kList = 108;
constexpr uint8_t kBinary = 109;
constexpr uint8_t kSmallBig = 110;

class TermWriter {
 public:
  explicit TermWriter(std::string& out) : out_(out) {}

  void byte(uint8_t b) { out_.push_back(static_cast<char>(b)); }
  void be32(uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) byte(static_cast<uint8_t>(v >> shift));
  }
  void atom(std::string_view name) {
    byte(kAtom);
    byte(0);
    byte(static_cast<uint8_t>(name.size()));
    out_.append(name);
  }
  void binary(std::string_view bytes) {
    byte(kBinary);
    be32(static_cast<uint32_t>(bytes.size()));
    out_.append(bytes);
  }
  void tuple(uint8_t arity) {
    byte(kSmallTuple);
    byte(arity);
  }
  // A proper list of `n` elements: the header here, the elements by the caller, then nil().
  void listHeader(uint32_t n) {
    byte(kList);
    be32(n);
  }
  void nil() { byte(kNil); }
  // Erlang picks the smallest form: a byte, a signed 32-bit integer, or a bignum (little-endian digits).
  void integer(bool negative, uint64_t magnitude) {
    if (!negative && magnitude <= 255) {
      byte(kSmallInteger);
      byte(static_cast<uint8_t>(magnitude));
    } else if (magnitude <= (negative ? uint64_t{1} << 31 : (uint64_t{1} << 31) - 1)) {
      byte(kInteger);
      be32(static_cast<uint32_t>(negative ? -static_cast<int64_t>(magnitude)
                                          : static_cast<int64_t>(magnitude)));
    } else {
      uint8_t digits[8];
      uint8_t n = 0;
      for (uint64_t m = magnitude; m; m >>= 8) digits[n++] = static_cast<uint8_t>(m & 0xff);
      byte(kSmallBig);
      byte(n);
      byte(negative ? 1 : 0);
      out_.append(reinterpret_cast<const char*>(digits), n);
    }
  }
  void signedInteger(int64_t v) {
    uint64_t magnitude = v < 0 ? uint64_t{0} - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
    integer(v < 0, magnitude);
  }
  void floating(double v) {
    byte(kNewFloat);
    uint64_t bits = std::bit_cast<uint64_t>(v);
    for (int shift = 56; shift >= 0; shift -= 8) byte(static_cast<uint8_t>(bits >> shift));
  }

  void json(simdjson::dom::element value);

 private:
  void object(simdjson::dom::object obj);
  std::string& out_;
};

void TermWriter::json(simdjson::dom::element value) {
  using simdjson::dom::element_type;
  switch (value.type()) {
    case element_type::OBJECT:
      object(value.get_object().value_unsafe());
      break;
    case element_type::ARRAY: {
      simdjson::dom::array items = value.get_array().value_unsafe();
      if (items.size() == 0) {
        nil();
        break;
      }
      listHeader(static_cast<uint32_t>(items.size()));
      for (auto item : items) json(item);
      nil();
      break;
    }
    case element_type::STRING:
      binary(value.get_string().value_unsafe());
      break;
    case element_type::INT64:
      signedInteger(value.get_int64().value_unsafe());
      break;
    case element_type::UINT64:
      integer(false, value.get_uint64().value_unsafe());
      break;
    case element_type::DOUBLE:
      floating(value.get_double().value_unsafe());
      break;
    case element_type::BOOL:
      atom(value.get_bool().value_unsafe() ? "true" : "false");
      break;
    case element_type::NULL_VALUE:
      atom("null");
      break;
  }
}

// {[{Key, Value}, ...]}. A repeated key keeps its last value at its last position (jiffy's dedupe_keys,
// which CouchDB's couch_util:json_decode always passes).
void TermWriter::object(simdjson::dom::object obj) {
  tuple(1);
  size_t n = obj.size();
  if (n == 0) {
    nil();
    return;
  }
  std::vector<std::pair<std::string_view, simdjson::dom::element>> fields;
  fields.reserve(n);
  for (auto field : obj) fields.emplace_back(field.key, field.value);
  std::vector<bool> keep(fields.size(), true);
  size_t kept = fields.size();
  if (fields.size() > 1) {
    std::unordered_map<std::string_view, size_t> last;
    last.reserve(fields.size());
    for (size_t i = 0; i < fields.size(); ++i) {
      auto [it, inserted] = last.try_emplace(fields[i].first, i);
      if (!inserted) {
        keep[it->second] = false;
        it->second = i;
        --kept;
      }
    }
  }
  listHeader(static_cast<uint32_t>(kept));
  for (size_t i = 0; i < fields.size(); ++i) {
    if (!keep[i]) continue;
    tuple(2);
    binary(fields[i].first);
    json(fields[i].second);
  }
  nil();
}

// CouchDB's couch_doc:parse_revid: 32 characters are read as a 128-bit hex number, anything else stays
// text.
std::string revIdBytes(std::string_view hash) {
  if (hash.size() != 32) return std::string(hash);
  std::string out(16, '\0');
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < 16; ++i) {
    int hi = nibble(hash[2 * i]), lo = nibble(hash[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::string(hash);
    out[i] = static_cast<char>(hi << 4 | lo);
  }
  return out;
}

// The 16 bytes of an `md5-<base64>` digest; the digest text when it is anything else.
std::string digestBytes(std::string_view digest) {
  if (digest.substr(0, 4) == "md5-") {
    if (auto raw = base64Decode(digest.substr(4)); raw && raw->size() == 16) return *raw;
  }
  return std::string(digest);
}

}  // namespace

std::string revisionTerm(bool deleted, const RevParent& parent, std::string_view body,
                         const std::vector<AttachmentInfo>& attachments) {
  std::string out;
  out.reserve(body.size() + body.size() / 2 + 64);
  TermWriter w(out);
  w.byte(kVersion);
  w.listHeader(5);
  w.atom(deleted ? "true" : "false");
  w.integer(false, parent.exists ? parent.gen : 0);
  if (parent.exists)
    w.binary(revIdBytes(parent.hash));
  else
    w.integer(false, 0);
  // One parser per thread: bodies are parsed here on every interactive write.
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(body.data(), body.size()).get(root) == simdjson::SUCCESS)
    w.json(root);
  else
    w.binary(body);
  if (attachments.empty()) {
    w.nil();
  } else {
    w.listHeader(static_cast<uint32_t>(attachments.size()));
    for (auto it = attachments.rbegin(); it != attachments.rend(); ++it) {
      w.tuple(3);
      w.binary(it->name);
      w.binary(it->contentType);
      w.binary(digestBytes(it->digest));
    }
    w.nil();
  }
  w.nil();
  return out;
}

std::string couchRevHash(bool deleted, const RevParent& parent, std::string_view body,
                         const std::vector<AttachmentInfo>& attachments) {
  Md5 md5;
  md5.update(revisionTerm(deleted, parent, body, attachments));
  return md5.finishHex();
}

std::string binaryListTerm(const std::vector<std::string>& items) {
  std::string out;
  TermWriter w(out);
  w.byte(kVersion);
  if (!items.empty()) {
    w.listHeader(static_cast<uint32_t>(items.size()));
    for (const auto& item : items) w.binary(item);
  }
  w.nil();
  return out;
}

std::string couchEtag(std::string_view term) {
  Md5 md5;
  md5.update(term);
  std::string hex = md5.finishHex();
  // io_lib:format("~.36B", [SigInt]): the digest as a big-endian number, divided down in base 36.
  uint8_t digits[16];
  for (size_t i = 0; i < 16; ++i)
    digits[i] = static_cast<uint8_t>(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
  std::string base36;
  auto isZero = [&] {
    for (uint8_t d : digits)
      if (d) return false;
    return true;
  };
  do {
    unsigned remainder = 0;
    for (uint8_t& d : digits) {
      unsigned value = remainder * 256 + d;
      d = static_cast<uint8_t>(value / 36);
      remainder = value % 36;
    }
    base36.push_back("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"[remainder]);
  } while (!isZero());
  return "\"" + std::string(base36.rbegin(), base36.rend()) + "\"";
}

}  // namespace settee::db
