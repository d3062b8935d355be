/** What the team pages share: readable refusals, confirmations, a mounted flag. */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import * as React from 'react';

import { errorMessage, MLTrackApiError } from '../api';

/** A server refusal as a sentence for a person: the server's message names the role needed or the rule. */
export function teamErrorMessage(err: unknown): string {
  const message = errorMessage(err);
  if (!(err instanceof MLTrackApiError)) {
    return message;
  }
  switch (err.status) {
    case 401:
      return `Not signed in: ${message}`;
    case 403:
      return `Not allowed: ${message}`;
    case 409:
      return `Refused: ${message}`;
    case 404:
      return /^no user /.test(message)
        ? `${message} — a user exists once they have opened Jupyter on this server, or once an admin adds them`
        : message;
    default:
      return message;
  }
}

/** Ask before doing something that cannot be undone; true when confirmed. */
export async function confirm(title: string, body: string, label: string): Promise<boolean> {
  const result = await showDialog({
    title,
    body,
    buttons: [Dialog.cancelButton(), Dialog.warnButton({ label })]
  });
  return result.button.accept;
}

/** A flag cleared when the component unmounts (so late answers do not set its state). */
export function useMounted(): React.MutableRefObject<boolean> {
  const mounted = React.useRef(true);
  React.useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
    };
  }, []);
  return mounted;
}

/** Run one change at a time; its refusal is kept for display (a readable sentence), and the views reload either way
 * (roles or keys may have changed behind our back). ``run`` answers whether the change went through. */
export function useAction(model: { refresh: () => Promise<unknown> | void }): {
  busy: boolean;
  error: string | null;
  setError: (error: string | null) => void;
  run: (change: () => Promise<void>) => Promise<boolean>;
} {
  const mounted = useMounted();
  const [busy, setBusy] = React.useState(false);
  const [error, setError] = React.useState<string | null>(null);
  const run = async (change: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    let ok = false;
    try {
      await change();
      ok = true;
    } catch (err) {
      if (mounted.current) {
        setError(teamErrorMessage(err));
      }
    } finally {
      if (mounted.current) {
        setBusy(false);
      }
      void model.refresh();
    }
    return ok;
  };
  return { busy, error, setError, run };
}
