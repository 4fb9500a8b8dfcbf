// The shared encodings and random tokens of db/crypto.h, which every layer uses instead of its own copy.
#include <catch2/catch.hpp>

#include <set>

#include "db/crypto.h"

using namespace settee::db;

TEST_CASE("crypto: hexEncode gives two lowercase digits per byte", "[db][crypto]") {
  CHECK(hexEncode("") == "");
  CHECK(hexEncode(std::string_view("\x00\x0f\xa0\xff", 4)) == "000fa0ff");
}

TEST_CASE("crypto: randomHex gives 2n lowercase hex digits, different each call", "[db][crypto]") {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    std::string token = randomHex(16);
    REQUIRE(token.size() == 32);
    CHECK(token.find_first_not_of("0123456789abcdef") == std::string::npos);
    seen.insert(token);
  }
  CHECK(seen.size() == 100);
  CHECK(randomHex(32).size() == 64);
}

TEST_CASE("crypto: base64 encodes as RFC 4648 and decodes back", "[db][crypto]") {
  CHECK(base64Encode("user:pass") == "dXNlcjpwYXNz");
  CHECK(base64Encode("a") == "YQ==");
  CHECK(base64Decode("YQ==") == std::optional<std::string>("a"));
  CHECK(base64Decode("YQ") == std::optional<std::string>("a"));
  CHECK(!base64Decode("Y"));
  CHECK(!base64Decode("YQ=!"));
  CHECK(md5Digest("") == "md5-1B2M2Y8AsgTpgAmY7PhCfg==");
}
