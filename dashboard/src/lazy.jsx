// Load a component's module on first render (code splitting) and show a placeholder meanwhile.
import { useEffect, useState } from "preact/hooks";
import { Loading } from "./ui.jsx";

export function lazy(load, what = "Loading") {
  let module = null;
  return function Lazy(props) {
    const [, setLoaded] = useState(Boolean(module));
    useEffect(() => {
      if (!module) load().then((m) => { module = m; setLoaded(true); });
    }, []);
    if (!module) return <Loading what={what} />;
    const Component = module.default;
    return <Component {...props} />;
  };
}

export const UsMap = lazy(() => import("./usmap.jsx"), "Loading the map");
