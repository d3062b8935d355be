/** The explorer's filter: the search language, with completion of the field being typed (attributes, params,
 * metrics, tags of the runs in scope). Enter applies; the server's refusal is shown under the box. */
import * as React from 'react';

/** The field name being typed at the end of `text` (after a space, parenthesis, comma or operator), if any. */
export function typedToken(text: string): { start: number; token: string } {
  const m = /[A-Za-z_`][A-Za-z0-9_.`\[\]=,-]*$/.exec(text);
  if (!m) {
    return { start: text.length, token: '' };
  }
  // inside brackets (a context) the comma belongs to the token; elsewhere it separates
  let token = m[0];
  let start = m.index;
  if (!token.includes('[')) {
    const cut = token.lastIndexOf(',');
    if (cut >= 0) {
      start += cut + 1;
      token = token.slice(cut + 1);
    }
  }
  return { start, token };
}

const MAX_SUGGESTIONS = 12;

export function FilterInput(props: {
  value: string;
  fields: string[];
  error: string | null;
  onApply: (filter: string) => void;
}): JSX.Element {
  const [text, setText] = React.useState(props.value);
  const [cursorAtEnd, setCursorAtEnd] = React.useState(true);
  const [active, setActive] = React.useState(0);
  const [open, setOpen] = React.useState(false);
  React.useEffect(() => setText(props.value), [props.value]);

  const { start, token } = typedToken(text);
  const lower = token.toLowerCase();
  const suggestions =
    open && cursorAtEnd && token.length > 0
      ? props.fields.filter(f => f.toLowerCase().startsWith(lower) && f !== token).slice(0, MAX_SUGGESTIONS)
      : [];
  const accept = (field: string) => {
    setText(text.slice(0, start) + field + ' ');
    setActive(0);
    setOpen(false);
  };

  return (
    <div className="jp-mltrack-explorer-filter">
      <input
        className={'jp-mltrack-explorer-filter-input' + (props.error ? ' jp-mod-error' : '')}
        type="search"
        value={text}
        spellCheck={false}
        placeholder="Filter: metrics.acc > 0.9 and params.optimizer = 'adam'"
        aria-label="Filter runs"
        aria-invalid={props.error !== null}
        aria-autocomplete="list"
        onChange={e => {
          setText(e.target.value);
          setCursorAtEnd(e.target.selectionStart === e.target.value.length);
          setActive(0);
          setOpen(true);
          if (e.target.value === '') {
            props.onApply('');
          }
        }}
        onBlur={() => setOpen(false)}
        onKeyDown={e => {
          if (suggestions.length && (e.key === 'ArrowDown' || e.key === 'ArrowUp')) {
            e.preventDefault();
            const n = suggestions.length;
            setActive(a => (a + (e.key === 'ArrowDown' ? 1 : n - 1)) % n);
          } else if (suggestions.length && e.key === 'Tab') {
            e.preventDefault();
            accept(suggestions[Math.min(active, suggestions.length - 1)]);
          } else if (e.key === 'Enter') {
            e.preventDefault();
            if (suggestions.length && open) {
              accept(suggestions[Math.min(active, suggestions.length - 1)]);
            } else {
              setOpen(false);
              props.onApply(text.trim());
            }
          } else if (e.key === 'Escape') {
            setOpen(false);
          }
        }}
      />
      {suggestions.length > 0 && (
        <ul className="jp-mltrack-explorer-suggestions" role="listbox">
          {suggestions.map((s, i) => (
            <li
              key={s}
              role="option"
              aria-selected={i === active}
              className={i === active ? 'jp-mod-active' : ''}
              onMouseDown={e => {
                e.preventDefault();
                accept(s);
              }}
            >
              {s}
            </li>
          ))}
        </ul>
      )}
      {props.error && <div className="jp-mltrack-filter-error">{props.error}</div>}
    </div>
  );
}
