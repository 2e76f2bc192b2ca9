/** The page's whole DOM layer: create elements declaratively, replace a container's content. */

export type Child = Node | string | number | null | undefined | false | readonly Child[];
type Listener = (event: Event) => void;
export type Attrs = Record<string, string | number | boolean | Listener | null | undefined>;

/**
 * `h('button', { class: 'primary', onclick: save }, 'Save')`. `on*` attributes become listeners,
 * `true` an empty attribute, `false`/`null`/`undefined` are left out; attributes are defaults, so
 * `form.reset()` restores them.
 */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs | null, ...children: Child[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  let property: string | undefined;
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === 'function') element.addEventListener(name.slice(2), value);
    // A textarea's or select's value is no attribute: set it once the children exist.
    else if (name === 'value' && (tag === 'textarea' || tag === 'select')) property = String(value);
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  append(element, children);
  if (property !== undefined) {
    if (element instanceof HTMLTextAreaElement)
      element.textContent = property; // its default value
    else (element as HTMLSelectElement).value = property;
  }
  return element;
}

function append(parent: Node, children: readonly Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else parent.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces everything inside `container`. */
export function mount(container: Element, ...children: Child[]): void {
  container.replaceChildren();
  append(container, children);
}

/** The element with this id (the page's fixed layout in index.html). */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`#${id} missing from index.html`);
  return element as T;
}
