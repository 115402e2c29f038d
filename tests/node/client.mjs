// Connects with graphql-ws, authenticates through connectionParams, subscribes to decisionPushed
// and prints each event as one JSON line; exits after `count` events. Driven by
// tests/api/test_graphql_ws_client.py: node client.mjs <ws-url> <token> <after-cursor|""> [count]
import { createClient } from "graphql-ws";
import WebSocket from "ws";

const [url, token, after, count = "1"] = process.argv.slice(2);
const wanted = Number(count);
const query = `subscription($a: String) {
  decisionPushed(after: $a) { cursor push { status decision { documentNumber } } }
}`;

const client = createClient({
  url,
  webSocketImpl: WebSocket,
  connectionParams: { authorization: `Bearer ${token}` },
  retryAttempts: 0,
  lazy: false,
  onNonLazyError: () => {}, // the subscription sink below reports the same error
  on: { connected: () => console.log(JSON.stringify({ connected: true })) },
});

let seen = 0;
const done = (code) => client.dispose().finally(() => process.exit(code));
client.subscribe(
  { query, variables: { a: after === "" ? null : after } },
  {
    next: (result) => {
      if (result.errors) {
        console.error(JSON.stringify(result.errors));
        done(1);
        return;
      }
      const event = result.data.decisionPushed;
      console.log(JSON.stringify({ cursor: event.cursor, documentNumber: event.push.decision.documentNumber }));
      if (++seen >= wanted) done(0);
    },
    error: (error) => {
      console.error(JSON.stringify({ error: String(error?.reason ?? error?.message ?? error), code: error?.code }));
      done(2);
    },
    complete: () => done(seen >= wanted ? 0 : 3),
  },
);
setTimeout(() => {
  console.error(JSON.stringify({ error: "timed out" }));
  done(4);
}, 30000);
