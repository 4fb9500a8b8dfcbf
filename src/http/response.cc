#include "http/response.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>

#include "http/request.h"

namespace settee::http {

void setHeader(Headers& headers, std::string_view name, std::string value) {
  std::erase_if(headers, [&](const auto& h) { return equalsIgnoreCase(h.first, name); });
  headers.emplace_back(std::string(name), std::move(value));
}

const std::string* findHeader(const Headers& headers, std::string_view name) {
  for (const auto& [key, value] : headers) {
    if (equalsIgnoreCase(key, name)) return &value;
  }
  return nullptr;
}

void Response::setHeader(std::string_view name, std::string value) {
  http::setHeader(headers, name, std::move(value));
}

const std::string* Response::header(std::string_view name) const { return findHeader(headers, name); }

Response Response::json(int status, std::string body) {
  Response response;
  response.status = status;
  response.headers.emplace_back("Content-Type", "application/json");
  response.body = std::move(body);
  return response;
}

Response Response::error(int status, std::string_view error, std::string_view reason) {
  return json(status, errorJson(error, reason));
}

std::string errorJson(std::string_view error, std::string_view reason) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  writer.StartObject();
  writer.Key("error");
  writer.String(error.data(), static_cast<rapidjson::SizeType>(error.size()));
  writer.Key("reason");
  writer.String(reason.data(), static_cast<rapidjson::SizeType>(reason.size()));
  writer.EndObject();
  // CouchDB ends every JSON body with a newline; clients that read line by line rely on it.
  return std::string(buffer.GetString(), buffer.GetSize()) + "\n";
}

const char* reasonPhrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Object Not Found";  // CouchDB's wording, which some clients print
    case 405:
      return "Method Not Allowed";
    case 406:
      return "Not Acceptable";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Request Entity Too Large";
    case 414:
      return "Request-URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 416:
      return "Requested Range Not Satisfiable";
    case 417:
      return "Expectation Failed";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    default:
      return "Unknown";
  }
}

}  // namespace settee::http
