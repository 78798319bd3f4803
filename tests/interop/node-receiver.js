// node-receiver.js - a webhook receiver built on the official Standard Webhooks verifier
// (npm `standardwebhooks`, pinned in package.json), as a hookline customer would write it.
//
//   node node-receiver.js --secret whsec_... [--secret whsec_...] --port-file F --record F.ndjson
//                         [--fail-first PATH]... [--max-seconds N]
//
// Listens on 127.0.0.1 (a free port, written to --port-file). Every request is verified with
// `new Webhook(secret).verify(rawBody, headers)` for each secret until one accepts it; the
// answer is 204 when it verified, 400 when not (after a failed verification nothing is parsed).
// One NDJSON line per request: {"path","headers","body_b64","verified","error","type","status"}.
// --fail-first PATH answers the first verified request on PATH with 500, so the retry (a new
// timestamp and signature) is verified too.
"use strict";
const fs = require("fs");
const http = require("http");
const { Webhook } = require("standardwebhooks");

function parseArgs(argv) {
  const a = { secrets: [], failFirst: new Set(), maxSeconds: 300 };
  for (let i = 2; i < argv.length; i += 2) {
    const v = argv[i + 1];
    if (argv[i] === "--secret") a.secrets.push(v);
    else if (argv[i] === "--port-file") a.portFile = v;
    else if (argv[i] === "--record") a.record = v;
    else if (argv[i] === "--fail-first") a.failFirst.add(v);
    else if (argv[i] === "--max-seconds") a.maxSeconds = Number(v);
    else throw new Error("unknown option " + argv[i]);
  }
  if (!a.secrets.length || !a.portFile || !a.record) throw new Error("--secret, --port-file and --record are required");
  return a;
}

const args = parseArgs(process.argv);
const verifiers = args.secrets.map((s) => new Webhook(s));
const seen = new Set();

function verify(body, headers) {
  let error = "no secret";
  for (const wh of verifiers) {
    try {
      return { payload: wh.verify(body, headers), error: null };
    } catch (e) {
      error = e.message;
    }
  }
  return { payload: null, error };
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const body = Buffer.concat(chunks);
    const { payload, error } = verify(body, req.headers);
    let status = payload ? 204 : 400;
    if (payload && args.failFirst.has(req.url) && !seen.has(req.url)) {
      seen.add(req.url);
      status = 500;
    }
    const line = {
      path: req.url, headers: req.headers, body_b64: body.toString("base64"), verified: !!payload,
      error, type: payload ? payload.type : null, status,
    };
    fs.appendFileSync(args.record, JSON.stringify(line) + "\n");
    res.writeHead(status);
    res.end();
  });
});

server.listen(0, "127.0.0.1", () => {
  const tmp = args.portFile + ".tmp";
  fs.writeFileSync(tmp, server.address().port + "\n");
  fs.renameSync(tmp, args.portFile);
});
setTimeout(() => process.exit(0), args.maxSeconds * 1000).unref();
process.on("SIGTERM", () => server.close(() => process.exit(0)));
