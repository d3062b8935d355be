/** Inline editing: a text (a description, a hypothesis) edited in place, and a run's tags edited row by row. Each
 * save is one write through the REST API (a batch on the server's write path); a refusal (a 403 in team mode, a 400
 * naming the field) is shown where the edit was made, and the text stays in the editor. */
import * as React from 'react';

import { errorMessage } from '../api';

/** A text shown as it is, with an Edit button; edited in a textarea (Ctrl+Enter saves, Escape cancels). An empty
 * text clears it. */
export function EditableText(props: {
  value: string;
  /** what the text is, for the buttons' titles: "description", "hypothesis" */
  what: string;
  placeholder: string;
  onSave: (text: string) => Promise<void>;
  className?: string;
  /** why it cannot be edited (team mode: the role it needs); absent: editable */
  readOnly?: string;
}): JSX.Element {
  const { value, what, placeholder, onSave } = props;
  const [draft, setDraft] = React.useState<string | null>(null);
  const [saving, setSaving] = React.useState(false);
  const [error, setError] = React.useState<string | null>(null);
  const save = async () => {
    if (draft === null) {
      return;
    }
    setSaving(true);
    setError(null);
    try {
      await onSave(draft);
      setDraft(null);
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setSaving(false);
    }
  };
  const cls = 'jp-mltrack-editable' + (props.className ? ' ' + props.className : '');
  if (draft === null) {
    return (
      <div className={cls} data-editing="false" title={props.readOnly}>
        {value ? (
          <p className="jp-mltrack-editable-text">{value}</p>
        ) : (
          <p className="jp-mltrack-editable-text jp-mltrack-muted-text">{props.readOnly ? '–' : placeholder}</p>
        )}
        {!props.readOnly && (
          <button
            className="jp-mltrack-icon-button jp-mltrack-edit"
            title={`Edit the ${what}`}
            aria-label={`Edit the ${what}`}
            onClick={() => setDraft(value)}
          >
            ✎
          </button>
        )}
      </div>
    );
  }
  return (
    <div className={cls} data-editing="true">
      <textarea
        className="jp-mltrack-editable-input"
        aria-label={what}
        value={draft}
        autoFocus
        rows={Math.min(8, Math.max(2, draft.split('\n').length))}
        disabled={saving}
        onChange={e => setDraft(e.target.value)}
        onKeyDown={e => {
          if (e.key === 'Escape') {
            setDraft(null);
            setError(null);
          } else if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
            e.preventDefault();
            void save();
          }
        }}
      />
      <div className="jp-mltrack-editable-actions">
        <button className="jp-mltrack-button jp-mod-accept jp-mltrack-save" disabled={saving} onClick={() => void save()}>
          {saving ? 'Saving…' : 'Save'}
        </button>
        <button
          className="jp-mltrack-button jp-mltrack-cancel"
          disabled={saving}
          onClick={() => {
            setDraft(null);
            setError(null);
          }}
        >
          Cancel
        </button>
      </div>
      {error && (
        <p className="jp-mltrack-edit-error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}

/** A run's tags, each value editable in place (Enter saves, Escape cancels), removable (×), and a row to add one.
 * `onSave` gets the changes: key → new value, or null to delete. */
export function TagsEditor(props: {
  tags: { [key: string]: string };
  onSave: (changes: { [key: string]: string | null }) => Promise<void>;
}): JSX.Element {
  const { tags, onSave } = props;
  const [editing, setEditing] = React.useState<{ key: string; value: string } | null>(null);
  const [newKey, setNewKey] = React.useState('');
  const [newValue, setNewValue] = React.useState('');
  const [busy, setBusy] = React.useState(false);
  const [error, setError] = React.useState<string | null>(null);
  const apply = async (changes: { [key: string]: string | null }, after: () => void) => {
    setBusy(true);
    setError(null);
    try {
      await onSave(changes);
      after();
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  };
  const entries = Object.entries(tags).sort(([a], [b]) => a.localeCompare(b));
  return (
    <div className="jp-mltrack-tags-editor">
      {entries.length > 0 && (
        <table className="jp-mltrack-table jp-mltrack-tags">
          <tbody>
            {entries.map(([key, value]) => (
              <tr key={key} data-tag-key={key}>
                <th scope="row" title={key}>
                  {key}
                </th>
                <td title={value}>
                  {editing && editing.key === key ? (
                    <input
                      className="jp-mltrack-tag-value-input"
                      aria-label={`Value of tag ${key}`}
                      value={editing.value}
                      autoFocus
                      disabled={busy}
                      onChange={e => setEditing({ key, value: e.target.value })}
                      onKeyDown={e => {
                        if (e.key === 'Enter') {
                          void apply({ [key]: editing.value }, () => setEditing(null));
                        } else if (e.key === 'Escape') {
                          setEditing(null);
                        }
                      }}
                    />
                  ) : (
                    <span
                      className="jp-mltrack-tag-value"
                      role="button"
                      tabIndex={0}
                      title="Click to edit"
                      onClick={() => setEditing({ key, value })}
                      onKeyDown={e => e.key === 'Enter' && setEditing({ key, value })}
                    >
                      {value}
                    </span>
                  )}
                </td>
                <td className="jp-mltrack-tag-actions">
                  <button
                    className="jp-mltrack-icon-button jp-mltrack-tag-remove"
                    title={`Remove the tag ${key}`}
                    aria-label={`Remove the tag ${key}`}
                    disabled={busy}
                    onClick={() => void apply({ [key]: null }, () => setEditing(null))}
                  >
                    ×
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form
        className="jp-mltrack-tag-add"
        onSubmit={e => {
          e.preventDefault();
          const key = newKey.trim();
          if (key) {
            void apply({ [key]: newValue }, () => {
              setNewKey('');
              setNewValue('');
            });
          }
        }}
      >
        <input
          className="jp-mltrack-tag-add-key"
          placeholder="tag"
          aria-label="New tag"
          value={newKey}
          disabled={busy}
          onChange={e => setNewKey(e.target.value)}
        />
        <input
          className="jp-mltrack-tag-add-value"
          placeholder="value"
          aria-label="New tag's value"
          value={newValue}
          disabled={busy}
          onChange={e => setNewValue(e.target.value)}
        />
        <button className="jp-mltrack-button jp-mltrack-tag-add-button" type="submit" disabled={busy || !newKey.trim()}>
          Add tag
        </button>
      </form>
      {error && (
        <p className="jp-mltrack-edit-error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}
