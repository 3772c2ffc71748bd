"""Minimal Ollama HTTP client (ops ``chat.llm_request``: OllamaClient.generate and
``chat.stream``: OllamaClient.generate_stream, a generator).

Talks the Ollama ``POST /api/generate`` protocol with http.client: with
"stream": false one JSON object comes back; with "stream": true the body is
NDJSON, one {"response": token, "done": false} object per token and a final
{"done": true, ...}.
"""

import http.client
import json
from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_MODEL = "ragd-lite-stub"


class LLMError(RuntimeError):
    pass


@dataclass
class GenerationResponse:
    text: str
    model: str
    eval_count: int
    total_duration_ns: int


class OllamaClient:
    def __init__(self, base_url, model=DEFAULT_MODEL, timeout=60.0, options=None):
        parts = urlsplit(base_url if "//" in base_url else "http://" + base_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError("unsupported LLM URL %r (need http://host:port)" % base_url)
        self.base_url = base_url
        self.host = parts.hostname
        self.port = parts.port or 11434
        self.model = model
        self.timeout = timeout
        self.options = dict(options or {})

    def _post(self, prompt, system, stream):
        payload = {"model": self.model, "prompt": prompt, "stream": stream,
                   "options": self.options}
        if system:
            payload["system"] = system
        body = json.dumps(payload).encode("utf-8")
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        conn.request("POST", "/api/generate", body=body,
                     headers={"Content-Type": "application/json",
                              "Accept": "application/x-ndjson" if stream
                              else "application/json"})
        resp = conn.getresponse()
        if resp.status != 200:
            detail = resp.read()[:200]
            conn.close()
            raise LLMError("LLM server returned HTTP %d: %r" % (resp.status, detail))
        return conn, resp

    def generate(self, prompt, system=None):
        """Non-streaming completion; returns GenerationResponse.  Single return."""
        conn, resp = self._post(prompt, system, stream=False)
        raw = resp.read()
        conn.close()
        data = json.loads(raw)
        result = GenerationResponse(text=data.get("response", ""),
                                    model=data.get("model", self.model),
                                    eval_count=int(data.get("eval_count", 0)),
                                    total_duration_ns=int(data.get("total_duration", 0)))
        return result

    def generate_stream(self, prompt, system=None):
        """Streaming completion: a generator of token strings (NDJSON lines).
        No early return/break; the generator ends by falling off the end."""
        conn, resp = self._post(prompt, system, stream=True)
        done = False
        while not done:
            line = resp.readline()
            if not line:
                raise LLMError("LLM stream ended without a done message")
            data = json.loads(line)
            done = bool(data.get("done", False))
            token = data.get("response", "")
            if token:
                yield token
        conn.close()
