"""What accounts tells the apps above it, which it does not import (docs/architecture.md,
"Layers and import rules")."""

from django.dispatch import Signal

# A user was created (``accounts.services.user_create``, or a signup through allauth), sent
# inside the transaction that creates them: receivers' writes commit or roll back with the
# user. Argument: ``user``. credits opens the user's credit account on it.
user_created = Signal()
