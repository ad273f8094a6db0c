"""The proactive concierge: messages the bot sends first (appointment reminders, birthday
greetings, follow-ups, milestones), scheduled durably and sent once across processes."""
