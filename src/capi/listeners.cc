// Change listeners (settee.h, "Change listeners").
//
// The Store calls a copy of each listener outside its lock, so a listener removed from it may still be
// running, or about to run, on a writer's thread. settee_listener_free promises more: once it returns the
// app's function is not running and is never called again. So every call goes through a Gate: the call
// runs under the gate's mutex and only while the gate is open; free closes it under that mutex, which
// waits out a call in progress.
#include <mutex>

#include "capi/capi_internal.h"

using settee::capi::badArgument;
using settee::capi::guard;

namespace {

struct Gate {
  std::mutex mu;
  bool open = true;
  settee_change_fn fn = nullptr;
  void* context = nullptr;
};

}  // namespace

struct settee_listener {
  std::shared_ptr<settee::Database> db;
  settee::Database::ListenerId id = 0;
  std::shared_ptr<Gate> gate;
};

extern "C" {

settee_error* settee_db_add_change_listener(settee_db* db, settee_change_fn fn, void* context,
                                            settee_listener** out_listener) {
  return guard([&]() -> settee_error* {
    if (out_listener) *out_listener = nullptr;
    if (!db || !fn || !out_listener)
      return badArgument("settee_db_add_change_listener needs db, fn and out_listener");
    auto listener = std::make_unique<settee_listener>();
    listener->db = db->db;
    listener->gate = std::make_shared<Gate>();
    listener->gate->fn = fn;
    listener->gate->context = context;
    listener->id = db->db->addChangeListener([gate = listener->gate](uint64_t seq) {
      std::lock_guard<std::mutex> lock(gate->mu);
      if (gate->open) gate->fn(gate->context, seq);
    });
    *out_listener = listener.release();
    return nullptr;
  });
}

void settee_listener_free(settee_listener* listener) {
  settee::capi::guardVoid([&] {
    if (!listener) return;
    listener->db->removeChangeListener(listener->id);
    {
      std::lock_guard<std::mutex> lock(listener->gate->mu);
      listener->gate->open = false;
    }
    delete listener;
  });
}

}  // extern "C"
