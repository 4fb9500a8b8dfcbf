// Helpers shared by the Mango find tests (mango_find_test.cc, mango_find_run_test.cc): a `_find` body read
// or refused, index definitions for the planner, the transcript's documents, and a query run to its rows.
#pragma once

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdio>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "db/collate_key.h"
#include "db/database_internal.h"
#include "db/mango_find.h"
#include "db/mango_plan.h"
#include "settee/database.h"
#include "test_util.h"

namespace settee::test::find {

using db::FindPlan;
using db::FindQuery;
using db::IndexSpec;

inline FindQuery query(const std::string& body) {
  auto q = db::parseFindRequest(body);
  INFO(body << ": " << q.status().reason());
  REQUIRE(q.isOk());
  return std::move(*q);
}

// The error a body is refused with, as "name: reason".
inline std::string refusal(const std::string& body) {
  auto q = db::parseFindRequest(body);
  if (q) return "(accepted)";
  CHECK(q.status().code() == ErrorCode::BadRequest);
  return std::string(q.status().error()) + ": " + q.status().reason();
}

inline IndexSpec index(const std::string& ddoc, const std::string& name, std::vector<std::string> fields,
                       const std::string& partial = "") {
  IndexSpec spec;
  spec.ddoc = "_design/" + ddoc;
  spec.name = name;
  for (auto& f : fields) spec.fields.push_back({f, false});
  if (!partial.empty()) {
    spec.partialJson = partial;
    auto sel = db::Selector::parseJson(partial);
    REQUIRE(sel);
    spec.partial = std::make_shared<const db::Selector>(std::move(*sel));
  }
  return spec;
}

inline FindPlan plan(const std::string& body, const std::vector<IndexSpec>& indexes) {
  auto p = db::planFind(query(body), indexes);
  INFO(body << ": " << p.status().reason());
  REQUIRE(p.isOk());
  return std::move(*p);
}

inline std::string chosen(const FindPlan& p) { return p.index ? p.index->name : "_all_docs"; }

// The candidate called `name` ("_all_docs" for the special index).
inline const db::IndexCandidate& candidate(const FindPlan& p, const std::string& name) {
  for (const auto& c : p.candidates) {
    if ((c.index ? c.index->name : "_all_docs") == name) return c;
  }
  FAIL("no candidate " << name);
  return p.candidates.front();
}

inline std::string key(const std::string& json) {
  simdjson::dom::parser parser;
  std::string out;
  db::appendCollationKey(parser.parse(json).value(), out);
  return out;
}

inline std::unique_ptr<Database> openDb(const TempDir& dir) {
  auto opened = Database::open(dir.file("db.settee"), "db", {});
  REQUIRE(opened);
  return std::move(*opened);
}

// The orders and customers of ../shared/transcripts/couchdb-mango.txt.
inline void seed(Database& db) {
  for (int n = 0; n < 12; ++n) {
    char id[8];
    std::snprintf(id, sizeof id, "o%03d", n);
    const char* tags[] = {"[]", R"(["a"])", R"(["a","b"])"};
    std::string doc = std::string(R"({"_id":")") + id + R"(","type":"order","route":"r)" +
                      std::to_string(n % 3) + R"(","status":")" + (n % 2 ? "done" : "open") + R"(","ts":)" +
                      std::to_string(1000 + n) + R"(,"tags":)" + tags[n % 3] + R"(,"n":)" +
                      std::to_string(n) + "}";
    REQUIRE(db.put(doc));
  }
  REQUIRE(db.put(R"({"_id":"c1","type":"customer","name":"Ann"})"));
  REQUIRE(db.put(R"({"_id":"c2","type":"customer","name":"Bob","vip":true})"));
}

struct Page {
  std::vector<std::string> docs;
  FindSummary summary;
};

inline Page run(Database& db, const std::string& body) {
  Page page;
  auto ran = db::runFind(db::storeOf(db), query(body), [&](std::string_view doc) {
    page.docs.emplace_back(doc);
    return true;
  });
  INFO(body << ": " << ran.status().reason());
  REQUIRE(ran.isOk());
  page.summary = *ran;
  return page;
}

inline std::vector<std::string> ids(const Page& page) {
  std::vector<std::string> out;
  for (const auto& d : page.docs) out.push_back(Json(d).str("_id"));
  return out;
}

}  // namespace settee::test::find
