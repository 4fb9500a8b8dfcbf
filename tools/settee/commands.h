// commands.h — the `settee` commands, as main.cc dispatches them. Each command lives in its own file with
// its usage text beside its code: `<name>Command` runs it on the arguments after its name and returns the
// process's exit status (0 done, 1 could not do it, 2 bad usage); `<name>Usage` prints its help, which
// `settee <name> --help` and `settee help <name>` both show. Internal to tools/settee.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

int serveCommand(const std::vector<std::string>& args);  // serve_command.cc
void serveUsage(FILE* out);
int replicateCommand(const std::vector<std::string>& args);  // replicate.cc
void replicateUsage(FILE* out);
int syncCommand(const std::vector<std::string>& args);  // sync_command.cc
void syncUsage(FILE* out);
int statusCommand(const std::vector<std::string>& args);  // status_command.cc
void statusUsage(FILE* out);
int jsCommand(const std::vector<std::string>& args);  // js_command.cc
void jsUsage(FILE* out);
