// Handlers for /v1/admin: operations on the whole server (online backup).
#include <simdjson.h>
#include <spdlog/spdlog.h>

#include "api/service.h"
#include "common/json_fields.h"
#include "common/json_writer.h"
#include "storage/backup.h"

namespace vitrina {
namespace {

// {"to": "/absolute/dir"}. False, saying why in *error, otherwise.
bool ParseBackupRequest(std::string_view body, std::string* to, FieldError* error) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(body.data(), body.size()).get(root) != simdjson::SUCCESS) {
    return Fail(error, "", "the body is not valid JSON; send {\"to\":\"/absolute/backup/dir\"}");
  }
  simdjson::dom::object object;
  if (root.get(object) != simdjson::SUCCESS) {
    return Fail(error, "", "expected a JSON object such as {\"to\":\"/absolute/backup/dir\"}, got " +
                               JsonTypeName(root));
  }
  static constexpr std::string_view kFields[] = {"to"};
  if (!CheckKnownFields(object, kFields, {}, "", error)) return false;
  simdjson::dom::element value;
  if (object["to"].get(value) != simdjson::SUCCESS) {
    return Fail(error, "to",
                "required: the directory to back up into, an absolute path that does not exist yet or is empty");
  }
  return ReadText(value, "to", to, error);
}

}  // namespace

// The copy runs on the server's scheduler, so no HTTP thread waits for it
// (copying model snapshots and logs takes as long as they are big); the
// answer is sent when it is done. Without a scheduler (tests) it runs here.
void ApiService::Backup(RouteRequest& request, Responder respond) {
  std::string to;
  FieldError error;
  if (!ParseBackupRequest(request.http.body, &to, &error)) {
    const std::string message = error.field.empty() ? error.message : error.field + ": " + error.message;
    return respond(ErrorResponse(400, "invalid_request", message, error.field));
  }
  auto run = [this, to, respond] { respond(BackupAnswer(to)); };
  if (scheduler_ == nullptr) return run();
  if (!scheduler_->RunOnce("backup", run)) {
    HttpResponse response = ErrorResponse(503, "unavailable", "the server is stopping");
    response.headers.emplace_back("Retry-After", "1");
    respond(std::move(response));
  }
}

HttpResponse ApiService::BackupAnswer(const std::string& to) {
  auto report = BackupDataDirectory(store_, to, clock_);
  if (!report.ok()) {
    if (report.status().code() != StatusCode::kInvalidArgument) {
      spdlog::error("backup into {} failed: {}", to, report.status().message());
    }
    return StatusError(report.status(), "to");
  }
  const FolderCopy models = report->folders.count("models") ? report->folders.at("models") : FolderCopy{};
  const FolderCopy logs = report->folders.count("logs") ? report->folders.at("logs") : FolderCopy{};
  spdlog::info("backup into {}: {} items, {} users, {} events, {} model snapshots, {} log files in {:.2f} s",
               report->path, report->counts.items, report->counts.users, report->counts.events, models.folders,
               logs.files, report->seconds);
  std::string body;
  JsonWriter w(&body);
  w.BeginObject().Key("path").String(report->path).Key("seconds").Double(report->seconds);
  w.Key("store").BeginObject()
      .Key("files").UInt(report->store_files)
      .Key("bytes").UInt(report->store_bytes)
      .Key("items").UInt(report->counts.items)
      .Key("users").UInt(report->counts.users)
      .Key("events").UInt(report->counts.events)
      .EndObject();
  w.Key("snapshots").UInt(models.folders).Key("log_files").UInt(logs.files);
  w.Key("folders").BeginObject();
  for (const auto& [name, copy] : report->folders) {
    w.Key(name).BeginObject()
        .Key("folders").UInt(copy.folders)
        .Key("files").UInt(copy.files)
        .Key("bytes").UInt(copy.bytes)
        .EndObject();
  }
  w.EndObject().EndObject();
  return JsonResponse(200, std::move(body));
}

}  // namespace vitrina
