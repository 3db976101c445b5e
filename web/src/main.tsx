import { render } from "preact";
import { App } from "./app.tsx";
import { messageOf } from "./api.ts";
import { loadMe, me } from "./session.ts";

const root = document.getElementById("app")!;
render(<App />, root);
loadMe().catch((err) => {
  me.value = null;
  console.error("could not ask the hub who is signed in:", messageOf(err));
});
