// Support shared by the conflict convergence tests (conflict_convergence_test.cc,
// conflict_convergence_http_test.cc): tree, a document's revision tree as it can be told apart from the
// outside, to compare replicas.
#pragma once

#include <catch2/catch.hpp>
#include <string>

#include "settee/database.h"

namespace settee::test::conflict_support {

// Every leaf of the document with its full history and body, winner first: the revision tree as it can
// be told apart from the outside.
inline std::string tree(Database& db, const std::string& id) {
  ReadOptions opts;
  opts.revs = true;
  opts.conflicts = true;
  opts.deletedConflicts = true;
  auto leaves = db.getOpenRevs(id, {}, opts);
  REQUIRE(leaves);
  std::string all;
  for (auto& l : *leaves) all += l.json + "\n";
  return all;
}

}  // namespace settee::test::conflict_support
