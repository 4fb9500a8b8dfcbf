// Helpers of the attachment tests: reproducible bytes that do not compress, and gzip to make an encoded
// attachment the way a client would.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <string>

#include "live_server.h"

namespace settee::test {

// `n` bytes from a 64-bit LCG seeded with `seed`: the same bytes for the same seed, and incompressible.
inline std::string randomBytes(size_t n, uint64_t seed) {
  std::string s(n, '\0');
  uint64_t x = seed;
  for (auto& c : s) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    c = static_cast<char>(x >> 56);
  }
  return s;
}

// `in` as one gzip member (default compression).
inline std::string gzip(const std::string& in) {
  z_stream z{};
  deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, in.size()) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

// Writes document `id` into `db` by replication (new_edits=false, multipart/related) at revision
// 1-b169928659d15c482e1fedd6b01100fa, with one gzip-encoded attachment "note.txt" holding `text`; returns
// the answer's HTTP status (201 when written).
inline int putGzippedReplica(const LiveServer& node, const std::string& db, const std::string& id,
                             const std::string& text) {
  const std::string packed = gzip(text);
  const std::string b = "92401b6188c602c94fb30b207210cb67";
  std::string json =
      R"({"_id":")" + id +
      R"(","_rev":"1-b169928659d15c482e1fedd6b01100fa","_revisions":{"start":1,"ids":["b169928659d15c482e1fedd6b01100fa"]},)"
      R"("_attachments":{"note.txt":{"content_type":"text/plain","revpos":1,"length":)" +
      std::to_string(text.size()) + R"(,"follows":true,"encoding":"gzip","encoded_length":)" +
      std::to_string(packed.size()) + "}}}";
  std::string body =
      "--" + b + "\r\nContent-Type: application/json\r\n\r\n" + json + "\r\n--" + b +
      "\r\nContent-Disposition: attachment; filename=\"note.txt\"\r\nContent-Type: text/plain\r\n"
      "Content-Length: " +
      std::to_string(packed.size()) + "\r\nContent-Encoding: gzip\r\n\r\n" + packed + "\r\n--" + b + "--";
  return node("PUT", "/" + db + "/" + id + "?new_edits=false", body,
              {{"Content-Type", "multipart/related; boundary=\"" + b + "\""}})
      .status;
}

}  // namespace settee::test
