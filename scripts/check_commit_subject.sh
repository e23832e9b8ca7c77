#!/usr/bin/env bash
# commit-msg hook (.pre-commit-config.yaml): the subject line is at most 72 characters; details go in the body,
# after a blank line. Usage: scripts/check_commit_subject.sh MESSAGE_FILE
set -euo pipefail
subject=$(grep -v '^#' "$1" | head -n 1)
if [ "${#subject}" -gt 72 ]; then
  echo "commit subject is ${#subject} characters; keep it to 72 and put the details in the body:" >&2
  echo "  $subject" >&2
  exit 1
fi
