#include "api/http.h"

#include "common/json_writer.h"
#include "common/strings.h"

#include <algorithm>

namespace vitrina {

std::string_view HttpMethodName(HttpMethod method) {
  switch (method) {
    case HttpMethod::kGet: return "GET";
    case HttpMethod::kHead: return "HEAD";
    case HttpMethod::kPost: return "POST";
    case HttpMethod::kPut: return "PUT";
    case HttpMethod::kPatch: return "PATCH";
    case HttpMethod::kDelete: return "DELETE";
    case HttpMethod::kOptions: return "OPTIONS";
    case HttpMethod::kOther: return "OTHER";
  }
  return "OTHER";
}

const std::string* HttpRequest::Query(std::string_view name) const {
  for (const auto& [key, value] : query) {
    if (key == name) return &value;
  }
  return nullptr;
}

bool ParseTarget(std::string_view target, std::string* path,
                 std::vector<std::pair<std::string, std::string>>* query, std::string* problem, std::string* field) {
  query->clear();
  size_t question = target.find('?');
  *path = std::string(target.substr(0, question));
  if (question == std::string_view::npos) return true;
  for (std::string_view pair : Split(target.substr(question + 1), "&")) {
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    auto key = PercentDecode(pair.substr(0, eq), true);
    auto value = PercentDecode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1), true);
    if (!key || !value) {
      if (problem != nullptr) *problem = "malformed %-escape in the query string";
      return false;
    }
    if (!IsValidUtf8(*key) || !IsValidUtf8(*value)) {
      if (field != nullptr && IsValidUtf8(*key)) *field = PrintableAscii(*key, 40);
      if (problem != nullptr) {
        *problem = IsValidUtf8(*key) ? "the query parameter '" + PrintableAscii(*key, 40) +
                                           "' is not UTF-8 text once %-decoded"
                                     : "a query parameter's name is not UTF-8 text once %-decoded";
      }
      return false;
    }
    query->emplace_back(std::move(*key), std::move(*value));
  }
  return true;
}

HttpResponse ErrorResponse(int status, std::string_view code, std::string_view message, std::string_view field,
                           std::optional<size_t> index) {
  HttpResponse response;
  response.status = status;
  JsonWriter w(&response.body);
  w.BeginObject().Key("error").BeginObject();
  w.Key("code").String(code);
  w.Key("message").String(message);
  w.Key("field");
  if (field.empty()) {
    w.Null();
  } else {
    w.String(field);
  }
  w.Key("index");
  if (index) {
    w.UInt(*index);
  } else {
    w.Null();
  }
  w.EndObject().EndObject();
  return response;
}

HttpResponse JsonResponse(int status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

namespace {

// The field a message is about: messages start with it ("item_id: ..."),
// else `field`.
std::string_view FieldOf(std::string_view message, std::string_view field) {
  const size_t colon = message.find(':');
  if (colon == 0 || colon == std::string_view::npos) return field;
  const std::string_view named = message.substr(0, colon);
  const bool identifier = std::all_of(named.begin(), named.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
  return identifier ? named : field;
}

}  // namespace

HttpResponse StatusError(const Status& status, std::string_view field) {
  switch (status.code()) {
    case StatusCode::kInvalidArgument:
      return ErrorResponse(400, "invalid_request", status.message(), FieldOf(status.message(), field));
    case StatusCode::kNotFound:
      return ErrorResponse(404, "not_found", status.message(), FieldOf(status.message(), field));
    case StatusCode::kAlreadyExists:
    case StatusCode::kFailedPrecondition:
      return ErrorResponse(409, "conflict", status.message(), FieldOf(status.message(), field));
    case StatusCode::kResourceExhausted:
      return ErrorResponse(409, "limit_reached", status.message(), FieldOf(status.message(), field));
    case StatusCode::kUnavailable: {
      HttpResponse response = ErrorResponse(503, "unavailable", status.message());
      response.headers.emplace_back("Retry-After", "5");
      return response;
    }
    default:
      return ErrorResponse(500, "internal", status.message());
  }
}


std::optional<HttpResponse> ParseBoolQuery(const HttpRequest& http, std::string_view name, bool* out) {
  const std::string* value = http.Query(name);
  if (value == nullptr) return std::nullopt;
  if (*value == "true" || *value == "1") {
    *out = true;
  } else if (*value == "false" || *value == "0") {
    *out = false;
  } else {
    return ErrorResponse(400, "invalid_request", std::string(name) + " must be true or false", name);
  }
  return std::nullopt;
}

std::optional<HttpResponse> ParseCountQuery(const HttpRequest& http, std::string_view name, size_t low, size_t high,
                                            size_t* out) {
  const std::string* value = http.Query(name);
  if (value == nullptr) return std::nullopt;
  auto number = ParseInt64(*value);
  if (!number || *number < static_cast<int64_t>(low) || *number > static_cast<int64_t>(high)) {
    return ErrorResponse(400, "invalid_request",
                         std::string(name) + " must be a whole number from " + std::to_string(low) + " to " +
                             std::to_string(high),
                         name);
  }
  *out = static_cast<size_t>(*number);
  return std::nullopt;
}

std::optional<HttpResponse> ParsePriceQuery(const HttpRequest& http, std::string_view name, std::optional<double>* out) {
  const std::string* value = http.Query(name);
  if (value == nullptr) return std::nullopt;
  auto number = ParseDouble(*value);
  if (!number || *number < 0) {
    return ErrorResponse(400, "invalid_request", std::string(name) + " must be a number >= 0", name);
  }
  *out = *number;
  return std::nullopt;
}

std::optional<HttpResponse> ReadActor(const HttpRequest& http, std::string* actor) {
  constexpr size_t kMaxActorBytes = 100;
  const std::string_view text = TrimWhitespace(http.actor);
  if (text.empty()) {
    *actor = "admin";
    return std::nullopt;
  }
  if (!IsValidUtf8(text) || HasControlChar(text) || text.size() > kMaxActorBytes) {
    return ErrorResponse(400, "invalid_request",
                         "the X-Vitrina-Actor header must be UTF-8 text of at most 100 bytes without control characters",
                         "X-Vitrina-Actor");
  }
  *actor = std::string(text);
  return std::nullopt;
}

}  // namespace vitrina
