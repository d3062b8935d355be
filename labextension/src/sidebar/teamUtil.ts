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
