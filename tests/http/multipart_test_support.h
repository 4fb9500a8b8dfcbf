// Fixtures shared by the tests of the whole-body multipart parser (parseMultipart) and of the streaming
// one (MultipartStreamParser): a real CouchDB open_revs answer, and malformed bodies both must refuse.
#pragma once

#include <string>
#include <vector>

namespace settee::test {

// The framing of `GET /tsrc/small_att?open_revs=[...]` with Accept: multipart/mixed from CouchDB 3.4.3: one
// revision, a multipart/related part holding the document `json` and its gzip-encoded attachment `gz`
// (note.txt, "hello"). `boundary` is the outer multipart/mixed boundary, `innerBoundary` the related one.
struct CouchOpenRevsAnswer {
  std::string boundary = "1aa8458a0ff2dd8b0a3184e1ab6fe68a";
  std::string innerBoundary = "f6822b8b4ee2867fb50bd7fbdf196c60";
  std::string json =
      R"({"_id":"small_att","_rev":"1-b169928659d15c482e1fedd6b01100fa","_revisions":{"start":1,"ids":)"
      R"(["b169928659d15c482e1fedd6b01100fa"]},"_attachments":{"note.txt":{"content_type":"text/plain",)"
      R"("revpos":1,"digest":"md5-iMaiC8wqiFlD2NjLTemvCQ==","length":5,"follows":true,"encoding":"gzip",)"
      R"("encoded_length":25}}})";
  std::string gz = std::string(
      "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\xcb\x48\xcd\xc9\xc9\x07\x00\x86\xa6\x10\x36\x05\x00\x00\x00",
      25);
  std::string body =
      "--" + boundary + "\r\nContent-Type: multipart/related; boundary=\"" + innerBoundary + "\"\r\n\r\n--" +
      innerBoundary + "\r\nContent-Type: application/json\r\n\r\n" + json + "\r\n--" + innerBoundary +
      "\r\nContent-Disposition: attachment; filename=\"note.txt\"\r\nContent-Type: text/plain\r\n"
      "Content-Length: 25\r\nContent-Encoding: gzip\r\n\r\n" +
      gz + "\r\n--" + innerBoundary + "--\r\n--" + boundary + "--";
};

// A body with boundary "B" that both parsers refuse as bad_request, with a reason that contains `reason`.
struct MalformedBody {
  std::string body;
  std::string reason;
};

// No first delimiter (all preamble), no parts, and malformed part header lines.
inline std::vector<MalformedBody> malformedBodies() {
  return {
      {"", "does not start with the boundary"},
      {"Content-Type: a/b\r\n\r\nx\r\n--C--", "does not start with the boundary"},
      {"--B--", "no parts"},
      {"--Bx\r\n\r\nbody\r\n--B--", "no parts"},
      {"--B\r\nContent-Type a/b\r\n\r\nx\r\n--B--", "malformed multipart part header"},
      {"--B\r\n: value\r\n\r\nx\r\n--B--", "malformed"},
      {"--B\r\nBad Name: v\r\n\r\nx\r\n--B--", "malformed"},
      {"--B\r\n folded-first\r\n\r\nx\r\n--B--", "malformed"},
  };
}

}  // namespace settee::test
