// Conflicts and conflict policies (settee.h, "Conflicts"; settee/conflict.h).
//
// A custom policy wraps the app's resolver in a ConflictPolicy's std::function. The function holds the
// app's context through a shared_ptr to a Context, so copies of the policy (a Sync keeps one) share it
// and free_context runs exactly once, when the last copy goes — the handle or a copy, whichever is last.
#include "capi/capi_internal.h"
#include "capi/policy.h"
#include "db/json.h"
#include "http/api.h"

using settee::capi::badArgument;
using settee::capi::copyOut;
using settee::capi::guard;
using settee::capi::toError;

// What the app's resolver decides through settee_decision_*, during its call only.
struct settee_decision {
  settee::ConflictDecision decision;
};

namespace {

struct Context {
  void* context = nullptr;
  void (*freeContext)(void*) = nullptr;  // set once the policy is made: a failed creation never calls it
  ~Context() {
    if (freeContext) freeContext(context);
  }
};

// The resolver's input: {"id","leaves":[{"rev","doc"}...],"ancestor_rev","ancestor"}.
std::string resolverInput(const settee::ConflictInput& in) {
  return settee::http::writeJson([&](settee::db::JsonWriter& w) {
    w.StartObject();
    settee::db::writeKey(w, "id");
    settee::db::writeString(w, in.id);
    settee::db::writeKey(w, "leaves");
    w.StartArray();
    for (const settee::ConflictLeaf& leaf : in.leaves) {
      w.StartObject();
      settee::db::writeKey(w, "rev");
      settee::db::writeString(w, leaf.rev);
      settee::db::writeKey(w, "doc");
      settee::db::writeRaw(w, leaf.json);
      w.EndObject();
    }
    w.EndArray();
    settee::db::writeKey(w, "ancestor_rev");
    if (in.ancestorRev.empty())
      w.Null();
    else
      settee::db::writeString(w, in.ancestorRev);
    settee::db::writeKey(w, "ancestor");
    if (in.ancestorJson)
      settee::db::writeRaw(w, *in.ancestorJson);
    else
      w.Null();
    w.EndObject();
  });
}

std::string stringArray(const std::vector<std::string>& items) {
  return settee::http::writeJson([&](settee::db::JsonWriter& w) {
    w.StartArray();
    for (const auto& s : items) settee::db::writeString(w, s);
    w.EndArray();
  });
}

}  // namespace

extern "C" {

settee_error* settee_db_conflicts(settee_db* db, const char* id, char** out_json) {
  return guard([&]() -> settee_error* {
    if (out_json) *out_json = nullptr;
    if (!db || !id || !out_json) return badArgument("settee_db_conflicts needs db, id and out_json");
    auto revs = db->db->conflicts(id);
    if (!revs) return toError(revs.status());
    *out_json = copyOut(stringArray(*revs));
    return nullptr;
  });
}

settee_error* settee_db_conflicted_documents(settee_db* db, size_t limit, const char* after,
                                             char** out_json) {
  return guard([&]() -> settee_error* {
    if (out_json) *out_json = nullptr;
    if (!db || !out_json) return badArgument("settee_db_conflicted_documents needs db and out_json");
    auto ids = db->db->conflictedDocuments(limit, after ? after : "");
    if (!ids) return toError(ids.status());
    *out_json = copyOut(stringArray(*ids));
    return nullptr;
  });
}

settee_error* settee_db_resolve_conflicts(settee_db* db, const char* id, const char* winner_rev,
                                          const char* merged_json, char** out_rev) {
  return guard([&]() -> settee_error* {
    if (out_rev) *out_rev = nullptr;
    if (!db || !id || !winner_rev)
      return badArgument("settee_db_resolve_conflicts needs db, id and winner_rev");
    std::optional<std::string_view> merged;
    if (merged_json) merged = merged_json;
    auto resolved = db->db->resolveConflicts(id, winner_rev, merged);
    if (!resolved) return toError(resolved.status());
    if (out_rev) *out_rev = copyOut(resolved->rev);
    return nullptr;
  });
}

settee_error* settee_conflict_policy_parse(const char* text, settee_conflict_policy** out_policy) {
  return guard([&]() -> settee_error* {
    if (out_policy) *out_policy = nullptr;
    if (!text || !out_policy) return badArgument("settee_conflict_policy_parse needs text and out_policy");
    auto parsed = settee::ConflictPolicy::parse(text);
    if (!parsed) return toError(parsed.status());
    *out_policy = new settee_conflict_policy{std::move(*parsed)};
    return nullptr;
  });
}

void settee_decision_choose(settee_decision* decision, const char* rev) {
  settee::capi::guardVoid([&] {
    if (decision && rev) decision->decision = settee::ConflictDecision::choose(rev);
  });
}

void settee_decision_merge(settee_decision* decision, const char* json, const char* on_rev) {
  settee::capi::guardVoid([&] {
    if (decision && json) decision->decision = settee::ConflictDecision::merged(json, on_rev ? on_rev : "");
  });
}

settee_error* settee_conflict_policy_custom(settee_resolver_fn fn, void* context, void (*free_context)(void*),
                                            settee_conflict_policy** out_policy) {
  return guard([&]() -> settee_error* {
    if (out_policy) *out_policy = nullptr;
    if (!fn || !out_policy) return badArgument("settee_conflict_policy_custom needs fn and out_policy");
    auto shared = std::make_shared<Context>();
    shared->context = context;
    auto policy = std::make_unique<settee_conflict_policy>();
    policy->policy = settee::ConflictPolicy::custom([fn, shared](const settee::ConflictInput& in) {
      settee_decision decision;
      fn(shared->context, resolverInput(in).c_str(), &decision);
      return decision.decision;
    });
    shared->freeContext = free_context;  // from here on the policy owns the context
    *out_policy = policy.release();
    return nullptr;
  });
}

void settee_conflict_policy_free(settee_conflict_policy* policy) {
  settee::capi::guardVoid([&] { delete policy; });
}

settee_error* settee_db_resolve_conflict(settee_db* db, const char* id, const settee_conflict_policy* policy,
                                         char** out_json) {
  return guard([&]() -> settee_error* {
    if (out_json) *out_json = nullptr;
    if (!db || !id || !policy) return badArgument("settee_db_resolve_conflict needs db, id and policy");
    auto resolution = db->db->resolveConflict(id, policy->policy);
    if (!resolution) return toError(resolution.status());
    if (!out_json) return nullptr;
    *out_json = copyOut(settee::http::writeJson([&](settee::db::JsonWriter& w) {
      w.StartObject();
      settee::db::writeKey(w, "resolved");
      w.Bool(resolution->resolved);
      settee::db::writeKey(w, "rev");
      settee::db::writeString(w, resolution->rev);
      settee::db::writeKey(w, "deleted");
      w.StartArray();
      for (const auto& rev : resolution->deleted) settee::db::writeString(w, rev);
      w.EndArray();
      w.EndObject();
    }));
    return nullptr;
  });
}

}  // extern "C"
