// The decoders of a remote peer's answers (replicator/remote_answers.h), as pure functions.
#include "replicator/remote_answers.h"

#include <catch2/catch.hpp>

using namespace settee;
using namespace settee::repl;

namespace {

std::string doc(const std::string& id, const std::string& hash, const std::string& parent) {
  return R"({"_id":")" + id + R"(","_rev":"2-)" + hash + R"(","_revisions":{"start":2,"ids":[")" + hash +
         R"(",")" + parent + R"("]}})";
}

const std::string kA(32, 'a'), kB(32, 'b'), kRoot(32, '0');

}  // namespace

TEST_CASE("decodeBulkGet: two leaves of one document asked as two entries of one request are both accepted",
          "[repl][answers]") {
  // The replicator fetches each conflicting leaf that has attachments as an entry of its own.
  std::vector<MissingRevs> asked{{"d", {"2-" + kA}, {}}, {"d", {"2-" + kB}, {}}};
  std::string body = R"({"results":[{"id":"d","docs":[{"ok":)" + doc("d", kA, kRoot) +
                     R"(}]},{"id":"d","docs":[{"ok":)" + doc("d", kB, kRoot) + "}]}]}";
  auto got = decodeBulkGet(body, asked, "POST _bulk_get");
  INFO((got ? "" : got.status().reason()));
  REQUIRE(got);
  CHECK(got->size() == 2);
}

TEST_CASE("decodeBulkGet: a third leaf nobody asked for is refused", "[repl][answers]") {
  std::vector<MissingRevs> asked{{"d", {"2-" + kA}, {}}, {"d", {"2-" + kB}, {}}};
  std::string body = R"({"results":[{"id":"d","docs":[{"ok":)" + doc("d", kA, kRoot) + R"(},{"ok":)" +
                     doc("d", kB, kRoot) + R"(},{"ok":)" + doc("d", kA, kRoot) + "}]}]}";
  auto got = decodeBulkGet(body, asked, "POST _bulk_get");
  REQUIRE_FALSE(got);
  CHECK(got.status().code() == ErrorCode::BadRequest);
  CHECK_THAT(got.status().reason(), Catch::Contains("more revisions of \"d\" than were asked for"));
}

TEST_CASE("decodeChanges: a row without rows' shape names the row; an empty answer keeps `since`",
          "[repl][answers]") {
  auto bad = decodeChanges(R"({"results":[{"seq":1,"id":"a","changes":[{"rev":"1-a"}]},{"seq":2}]})", "0",
                           "GET _changes");
  REQUIRE_FALSE(bad);
  CHECK_THAT(bad.status().reason(),
             Catch::StartsWith("bad answer to GET _changes: row 1 has no string `id`"));
  auto empty = decodeChanges(R"({"results":[]})", "\"7-x\"", "GET _changes");
  REQUIRE(empty);
  CHECK(empty->lastSeq == "\"7-x\"");
  CHECK(empty->rows.empty());
}
