// Helpers shared by the tests: temporary directories that clean up after themselves, JSON lookups.
#pragma once

#include <simdjson.h>

#include <cctype>
#include <filesystem>
#include <random>
#include <string>
#include <string_view>

namespace settee::test {

class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() /
            ("settee-test-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

// Parses JSON for assertions; the returned element lives as long as the Json object.
class Json {
 public:
  explicit Json(const std::string& text) : text_(text) { root_ = parser_.parse(text_).value(); }
  simdjson::dom::element operator[](const char* key) const { return root_[key].value(); }
  simdjson::dom::element root() const { return root_; }
  bool has(const char* key) const { return !root_[key].error(); }
  std::string str(const char* key) const { return std::string(root_[key].get_string().value()); }

 private:
  std::string text_;
  simdjson::dom::parser parser_;
  simdjson::dom::element root_;
};

// Percent-encodes a query parameter value (JSON keys carry quotes and brackets): RFC 3986's unreserved
// characters stay, every other byte becomes %XX.
inline std::string percentEncode(std::string_view s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace settee::test
