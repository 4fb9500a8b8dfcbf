// Partitioned databases are not supported: they are refused with the answers CouchDB 3.4 gives when its
// `partitioned` feature is disabled (chttpd_db: parse_partitioned_opt, handle_partition_req), never
// silently ignored.
#include <catch2/catch.hpp>

#include "live_server.h"

using settee::test::HttpReply;
using settee::test::Json;
using settee::test::LiveServer;

namespace {

void checkError(const HttpReply& reply, int status, const char* error, const char* reason) {
  INFO(reply.body);
  CHECK(reply.status == status);
  Json body(reply.body);
  CHECK(body.str("error") == error);
  CHECK(body.str("reason") == reason);
}

}  // namespace

TEST_CASE("Partitions: PUT /db?partitioned=true is refused and creates nothing", "[http][partition]") {
  LiveServer node;
  checkError(node("PUT", "/pdb?partitioned=true"), 400, "bad_request", "Partitioned feature is not enabled.");
  CHECK(node("GET", "/pdb").status == 404);
  checkError(node("PUT", "/pdb?partitioned=yes"), 400, "bad_request", "Invalid `partitioned` parameter");
  CHECK(node("GET", "/pdb").status == 404);
  // false is the default and creates an ordinary database, whose props stay empty.
  CHECK(node("PUT", "/pdb?partitioned=false").status == 201);
  CHECK(Json(node("GET", "/pdb").body)["props"].get_object().size() == 0);
}

TEST_CASE("Partitions: /db/_partition/... answers that the database is not partitioned",
          "[http][partition]") {
  LiveServer node;
  REQUIRE(node("PUT", "/db").status == 201);
  REQUIRE(node("PUT", "/db/p1:a", R"({"v":1})").status == 201);
  checkError(node("GET", "/db/_partition/p1"), 400, "bad_request", "database is not partitioned");
  checkError(node("GET", "/db/_partition/p1/_all_docs"), 400, "bad_request", "database is not partitioned");
  checkError(node("POST", "/db/_partition/p1/_find", R"({"selector":{}})"), 400, "bad_request",
             "database is not partitioned");
  checkError(node("GET", "/db/_partition/p1/_design/d/_view/v"), 400, "bad_request",
             "database is not partitioned");
  checkError(node("GET", "/db/_partition"), 400, "bad_request", "invalid_partition_req");
  checkError(node("GET", "/db/_partition/_bad"), 400, "illegal_partition",
             "Partition must not start with an underscore");
  checkError(node("POST", "/db/_partition/_bad", "{}"), 400, "illegal_partition",
             "Partition must not start with an underscore");
  CHECK(node("PUT", "/db/_partition/p1", "{}").status == 405);
  // A missing database is still a 404 first.
  CHECK(node("GET", "/nodb/_partition/p1").status == 404);
}
